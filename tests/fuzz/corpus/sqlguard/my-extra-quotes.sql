mSELECT /*+ MAX_EXECUTION_TIME(1) */ `a``b`, "c""d", 'e\\f' # x
-- y
