# remotefix collection script v@VERSION@ (@COUNT@ collectors: @NAMES@), PowerShell 5.1 or 7.
# It only reads: it changes nothing on this machine and elevates nothing. Run it as a user that
# may read what is collected and send its output to your support contact; remotefix redacts
# secrets on import. What this user may not read is recorded as denied.
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$rfxUtf8 = New-Object System.Text.UTF8Encoding $false
"@@RFXSCRIPT@@ @VERSION@ @PROFILE@ @NAMES_CSV@ " + (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ') + " windows"

function rfx_b64([byte[]]$bytes, [int]$cap) {
  if ($bytes.Length -gt $cap) { $bytes = $bytes[0..($cap - 1)] }
  [Convert]::ToBase64String($bytes)
}

# one framed record, the same frame as the POSIX script's
function rfx_emit([string]$kind, [string]$id, [int]$code, [long]$ms, [string]$out, [string]$err, [int]$cap) {
  $o = $rfxUtf8.GetBytes($out); $e = $rfxUtf8.GetBytes($err)
  '@@RFX@@ {0} {1} {2} {3} {4} {5}' -f $kind, $code, $ms, $o.Length, $e.Length, [Convert]::ToBase64String($rfxUtf8.GetBytes($id))
  rfx_b64 $o $cap
  rfx_b64 $e $cap
}

# rfx_run ID TIMEOUT CAP CODE: CODE in its own runspace, stopped after TIMEOUT seconds
function rfx_run([string]$id, [int]$timeout, [int]$cap, [string]$code) {
  $watch = [Diagnostics.Stopwatch]::StartNew()
  $ps = [PowerShell]::Create()
  [void]$ps.AddScript($code)
  $exit = 0; $out = ''; $err = ''
  try {
    $handle = $ps.BeginInvoke()
    if ($handle.AsyncWaitHandle.WaitOne($timeout * 1000)) {
      $out = ($ps.EndInvoke($handle) | Out-String -Width 4096)
      if ($ps.Streams.Error.Count -gt 0) {
        $err = ($ps.Streams.Error | ForEach-Object { $_.ToString() }) -join "`n"
        $exit = 1
      }
    } else {
      $ps.Stop(); $exit = 124; $err = "timed out after $timeout s"
    }
  } catch {
    $err = $_.Exception.Message; $exit = 1
  } finally { $ps.Dispose() }
  if ($exit -ne 0 -and $err -match 'Access is denied|Access denied|UnauthorizedAccess|PermissionDenied|requires elevation') {
    $err = "permission denied: $err"
  }
  rfx_emit 'cmd' $id $exit $watch.ElapsedMilliseconds $out $err $cap
}

# rfx_file COLLECTOR PATTERN TIMEOUT CAP: every file the pattern matches (at most @MAX_FILES@)
function rfx_file([string]$collector, [string]$pattern, [int]$timeout, [int]$cap) {
  $files = @(Get-ChildItem -Path $pattern -File -ErrorAction SilentlyContinue | Select-Object -First @MAX_FILES@)
  foreach ($f in $files) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try { $text = [IO.File]::ReadAllText($f.FullName); $exit = 0; $err = '' }
    catch { $text = ''; $exit = 1; $err = "permission denied: $($_.Exception.Message)" }
    rfx_emit 'file' "${collector}:$($f.FullName)" $exit $watch.ElapsedMilliseconds $text $err $cap
  }
  if ($files.Count -eq 0) { rfx_emit 'missing' "${collector}:$pattern" 0 0 '' '' 0 }
}

function rfx_skip([string]$collector) { rfx_emit 'skip' $collector 0 0 '' '' 0 }
