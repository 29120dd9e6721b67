/*
 * PowerShell that fetches code from the network and runs it in memory (a
 * "download cradle"), and PowerShell started with a base64-encoded
 * command. Both are common first stages of intrusions and rare in
 * legitimate scripts on office PCs.
 */
rule PowerShell_Download_Cradle
{
    meta:
        description = "PowerShell downloading content and executing it in memory (download cradle)"
        author = "Lá Chắn"
        reference = "https://attack.mitre.org/techniques/T1059/001/"
        date = "2025-01-01"
        severity = 3

    strings:
        $dl1 = "DownloadString" ascii wide nocase
        $dl2 = "DownloadData" ascii wide nocase
        $dl3 = "Invoke-WebRequest" ascii wide nocase
        $dl4 = "Invoke-RestMethod" ascii wide nocase
        $dl5 = "Net.WebClient" ascii wide nocase
        $dl6 = "Start-BitsTransfer" ascii wide nocase
        $ex1 = "IEX" ascii wide nocase fullword
        $ex2 = "Invoke-Expression" ascii wide nocase
        $ex3 = /\|\s*iex\b/ ascii nocase

    condition:
        filesize < 2MB and any of ($dl*) and any of ($ex*)
}

rule PowerShell_Encoded_Command
{
    meta:
        description = "PowerShell started with a long base64-encoded command"
        author = "Lá Chắn"
        reference = "https://attack.mitre.org/techniques/T1027/010/"
        date = "2025-01-01"
        severity = 2

    strings:
        $enc = /powershell(\.exe)?["']?\s[^\r\n]{0,200}\s-(e|ec|en|enc|enco|encodedcommand)\s+[A-Za-z0-9+\/]{40}/ ascii nocase

    condition:
        filesize < 2MB and $enc
}
