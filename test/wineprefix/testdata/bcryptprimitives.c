/*
 * bcryptprimitives.dll for Wine 8, which lacks it: Go (1.22 and later)
 * takes its random numbers from ProcessPrng there and will not start
 * without it. Every Windows since 8 has the real DLL, so this goes only
 * into the test prefix, never into a package. RtlGenRandom (advapi32's
 * SystemFunction036) draws from the same system generator on Wine.
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
