; Inno Setup script for c3desk on Windows (NOT TESTED: never built; see README.md).
; Packs the PyInstaller one-folder bundle dist\c3desk\ (built with C3DESK_WINDOWED=1 from
; packaging\c3desk.spec) into dist\c3desk-<version>-windows-x64-setup.exe.
;   iscc /DAppVersion=0.1.0 packaging\windows\c3desk.iss

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif

[Setup]
AppId={{6F1D2C3A-5B8E-4C0F-9A7D-C3DE5C000001}
AppName=c3desk
AppVersion={#AppVersion}
AppPublisher=c3desk
AppPublisherURL=https://github.com/c3desk/c3desk
DefaultDirName={autopf}\c3desk
DefaultGroupName=c3desk
DisableProgramGroupPage=yes
; Per-user install by default (no admin rights needed); the dialog offers all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=c3desk-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\icons\c3desk.ico
UninstallDisplayIcon={app}\c3desk.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\c3desk\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\c3desk"; Filename: "{app}\c3desk.exe"
Name: "{autodesktop}\c3desk"; Filename: "{app}\c3desk.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\c3desk.exe"; Description: "{cm:LaunchProgram,c3desk}"; Flags: nowait postinstall skipifsilent
