/*
 * tests/windows/bcryptprimitives.c: a stand-in for the bcryptprimitives.dll
 * of Windows 10 and later, which Wine 8.0 lacks. Rust's standard library
 * takes its random bytes from that DLL's ProcessPrng; without it both exes
 * exit with status 53 under Wine before printing anything. This one forwards
 * to SystemFunction036 (RtlGenRandom, in advapi32), which Wine has.
 *
 * For the Wine tests only (tests/windows-e2e.sh puts it in the test prefix's
 * system32): real Windows has the DLL, and no release artifact carries this.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *       bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
