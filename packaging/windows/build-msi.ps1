# Builds target\windows\Hubble-<version>-x64.msi on Windows: a release build of hubble.exe, then
# the WiX v4/v5 installer (install WiX with: dotnet tool install --global wix).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
$version = (Select-String -Path Cargo.toml -Pattern '^version = "(.*)"' | Select-Object -First 1).Matches[0].Groups[1].Value
cargo build --release --locked --bin hubble
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
New-Item -ItemType Directory -Force target\windows | Out-Null
wix build packaging\windows\hubble.wxs -arch x64 -d "Version=$version" `
    -d "BinaryPath=target\release\hubble.exe" -o "target\windows\Hubble-$version-x64.msi"
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Output "wrote target\windows\Hubble-$version-x64.msi"
