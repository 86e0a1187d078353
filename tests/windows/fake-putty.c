/*
 * tests/windows/fake-putty.c: stands in for putty.exe in tests/windows-e2e.sh.
 * Writes its arguments (not the program name), one per line in UTF-8, to the
 * file named by %KNOCK_FAKE_PUTTY_OUT% and exits 0, so the test sees exactly
 * what knock-gui started PuTTY with.
 *
 *   x86_64-w64-mingw32-gcc -O2 -s -mwindows -o putty.exe fake-putty.c -lshell32
 */
#include <windows.h>
#include <shellapi.h>
#include <stdio.h>

int WINAPI WinMain(HINSTANCE inst, HINSTANCE prev, LPSTR cmdline, int show)
{
    (void)inst, (void)prev, (void)cmdline, (void)show;
    wchar_t out[MAX_PATH];
    DWORD n = GetEnvironmentVariableW(L"KNOCK_FAKE_PUTTY_OUT", out, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return 2;
    int argc = 0;
    wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    if (argv == NULL)
        return 3;
    FILE *f = _wfopen(out, L"wb");
    if (f == NULL)
        return 4;
    for (int i = 1; i < argc; i++) {
        char buf[4096];
        int len = WideCharToMultiByte(CP_UTF8, 0, argv[i], -1, buf, sizeof buf, NULL, NULL);
        if (len <= 0)
            return 5;
        fprintf(f, "%s\n", buf);
    }
    fclose(f);
    LocalFree(argv);
    return 0;
}
