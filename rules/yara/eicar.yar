/*
 * The EICAR anti-malware test file: harmless by design, used to check that
 * a scanner, its agent and the whole alert path work end to end.
 * The string is split in two so that this rule file itself is not taken
 * for the test file by other scanners.
 */
rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-malware test file (harmless; used to test detection end to end)"
        author = "Lá Chắn"
        reference = "https://www.eicar.org/download-anti-malware-testfile/"
        date = "2025-01-01"
        severity = 1

    strings:
        $head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
        $tail = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

    condition:
        // The file starts with the string and may be padded with
        // whitespace up to 128 bytes in all.
        $head at 0 and $tail at 28 and filesize <= 128
}
