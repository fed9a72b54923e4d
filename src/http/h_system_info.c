/* GET /api/v1/system: where this vectoraiz runs, for the UI's setup help.
 * Spec M5: inside a container "localhost" is the container itself, not the
 * machine whose database the user means, so the connection form explains
 * host.docker.internal, --network host / extra_hosts and service names. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/handlers.h"

/* Markers in /proc/1/cgroup (cgroup v1, or v2 without a cgroup namespace),
 * most specific first: a Kubernetes pod also runs under containerd. */
static const struct {
    const char *marker, *kind;
} cgroup_markers[] = {
    {"kubepods", "kubernetes"}, {"docker", "docker"}, {"containerd", "containerd"},
    {"libpod", "podman"},       {"lxc", "lxc"},
};

/* "docker", "podman", "kubernetes", ... or NULL when nothing says so. A
 * cgroup v2 host with a private cgroup namespace shows only "0::/", so the
 * marker files are checked first. */
static const char *container_kind(void)
{
    char buf[8192];
    size_t n;
    FILE *f;

    if (access("/.dockerenv", F_OK) == 0)
        return "docker";
    if (access("/run/.containerenv", F_OK) == 0)
        return "podman";
    f = fopen("/proc/1/cgroup", "re");
    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < sizeof(cgroup_markers) / sizeof(cgroup_markers[0]); i++)
        if (strstr(buf, cgroup_markers[i].marker))
            return cgroup_markers[i].kind;
    return NULL;
}

void vz_h_system_info(struct vz_req *r)
{
    const char *kind = container_kind();
    vz_reply_json(r, 200,
                  json_pack("{s:s, s:b, s:s?}", "version", VZ_VERSION, "in_container", kind != NULL,
                            "container_hint", kind));
}
