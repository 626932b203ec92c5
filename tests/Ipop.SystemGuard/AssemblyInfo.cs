// Reads /proc and runs a bash script: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
