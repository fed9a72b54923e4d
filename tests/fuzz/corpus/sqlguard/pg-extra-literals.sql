pSELECT U&'!0041' UESCAPE '!', E'\x41\'', $a$ $b$ $a$, B'101', X'1F' /* /* n */ */ -- t
;