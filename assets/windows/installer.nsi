; assets/windows/installer.nsi: the Windows installer of knock (64-bit NSIS).
;
; release.sh builds it on Linux with Debian's makensis:
;   makensis -DVERSION=0.1.0 -DSTAGE=DIR -DOUTFILE=FILE assets/windows/installer.nsi
; where DIR holds knock.exe, knock-gui.exe, README.md and profiles.example.toml.
;
; It installs into Program Files\knock for all users, adds a Start-menu
; shortcut "knock" for the GUI, an Add/Remove Programs entry and
; uninstall.exe, and (the component "Add knock.exe to PATH", on by default)
; appends the folder to the system PATH.
;
;   knock-VERSION-windows-setup.exe /S            silent install (with PATH)
;   knock-VERSION-windows-setup.exe /S /NOPATH    silent, PATH left alone
;   knock-VERSION-windows-setup.exe /S /D=C:\knock   another folder (last, unquoted)
;   "C:\Program Files\knock\uninstall.exe" /S     silent uninstall
;
; The profile file (%APPDATA%\knock\config\profiles.toml) belongs to the user:
; neither the installer nor the uninstaller touches it.

!ifndef VERSION | STAGE | OUTFILE
    !error "usage: makensis -DVERSION=X.Y.Z -DSTAGE=DIR -DOUTFILE=FILE installer.nsi"
!endif

Unicode true
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include Sections.nsh
!include StrFunc.nsh
!include WinMessages.nsh

!define APP_KEY "Software\knock"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\knock"
!define ENV_KEY "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
; NSIS strings hold at most 1024 characters (NSIS_MAX_STRLEN): a longer PATH
; would come back cut off, and writing it back would lose entries. Leave such
; a PATH alone and say so.
!define PATH_LIMIT 900

Name "knock ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\knock"
InstallDirRegKey HKLM "${APP_KEY}" "InstallDir"
BrandingText "knock ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION}.0"
VIFileVersion "${VERSION}.0"
VIAddVersionKey /LANG=1033 "ProductName" "knock"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "FileDescription" "knock ${VERSION} setup"
VIAddVersionKey /LANG=1033 "CompanyName" "knock contributors"
VIAddVersionKey /LANG=1033 "LegalCopyright" "knock contributors, MIT OR Apache-2.0"

!define MUI_ICON "knock.ico"
!define MUI_UNICON "knock.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "Start knock"
!define MUI_FINISHPAGE_RUN_FUNCTION StartApp

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

${StrStr}
${UnStrStr}
${UnStrRep}

Section "knock and knock-gui (required)" SecMain
    SectionIn RO
    SetShellVarContext all
    SetOutPath "$INSTDIR"
    File "${STAGE}\knock.exe"
    File "${STAGE}\knock-gui.exe"
    File "${STAGE}\README.md"
    File "${STAGE}\profiles.example.toml"
    WriteUninstaller "$INSTDIR\uninstall.exe"

    CreateShortcut "$SMPROGRAMS\knock.lnk" "$INSTDIR\knock-gui.exe" "" \
        "$INSTDIR\knock-gui.exe" 0 SW_SHOWNORMAL "" "Port knocking: knock a saved profile, then connect"

    WriteRegStr HKLM "${APP_KEY}" "InstallDir" "$INSTDIR"
    WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "knock"
    WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
    WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "knock contributors"
    WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\knock-gui.exe,0"
    WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
    WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
    WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
    WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
    WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
    ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
    WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Add knock.exe to PATH" SecPath
    ReadRegStr $0 HKLM "${ENV_KEY}" "Path"
    StrLen $1 $0
    ${StrStr} $2 ";$0;" ";$INSTDIR;"
    ${If} $2 != ""
        DetailPrint "PATH already has $INSTDIR"
    ${ElseIf} $0 == ""
    ${OrIf} $1 > ${PATH_LIMIT}
        DetailPrint "PATH not changed: add $INSTDIR to PATH yourself"
        MessageBox MB_OK|MB_ICONINFORMATION "Your PATH is too long for this installer to change it safely.$\n$\nAdd $INSTDIR to PATH yourself to run knock.exe from any folder." /SD IDOK
    ${Else}
        WriteRegExpandStr HKLM "${ENV_KEY}" "Path" "$0;$INSTDIR"
        WriteRegDWORD HKLM "${APP_KEY}" "AddedToPath" 1
        SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
        DetailPrint "Added $INSTDIR to PATH"
    ${EndIf}
SectionEnd

Function .onInit
    ${GetParameters} $R0
    ClearErrors
    ${GetOptions} $R0 "/NOPATH" $R1
    ${IfNot} ${Errors}
        !insertmacro UnselectSection ${SecPath}
    ${EndIf}
FunctionEnd

; The installer runs elevated; start the app as the user who is logged in
; (through Explorer), so its profile file is that user's.
Function StartApp
    Exec '"$WINDIR\explorer.exe" "$INSTDIR\knock-gui.exe"'
FunctionEnd

Section "Uninstall"
    SetShellVarContext all
    Delete "$SMPROGRAMS\knock.lnk"
    Delete "$INSTDIR\knock.exe"
    Delete "$INSTDIR\knock-gui.exe"
    Delete "$INSTDIR\README.md"
    Delete "$INSTDIR\profiles.example.toml"
    Delete "$INSTDIR\uninstall.exe"
    RMDir "$INSTDIR"

    ReadRegDWORD $3 HKLM "${APP_KEY}" "AddedToPath"
    ${If} $3 == 1
        ReadRegStr $0 HKLM "${ENV_KEY}" "Path"
        StrLen $1 $0
        ${UnStrStr} $2 "$0;" ";$INSTDIR;"
        ${If} $2 == ""
            DetailPrint "PATH does not have $INSTDIR (any more)"
        ${ElseIf} $1 > ${PATH_LIMIT}
            DetailPrint "PATH not changed: remove $INSTDIR from PATH yourself"
        ${Else}
            ${UnStrRep} $2 "$0;" ";$INSTDIR;" ";"
            StrCpy $2 $2 -1
            WriteRegExpandStr HKLM "${ENV_KEY}" "Path" "$2"
            SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=5000
            DetailPrint "Removed $INSTDIR from PATH"
        ${EndIf}
    ${EndIf}

    DeleteRegKey HKLM "${UNINST_KEY}"
    DeleteRegKey HKLM "${APP_KEY}"
SectionEnd
