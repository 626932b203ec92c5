// The API serves Unix domain sockets with Unix file modes: these tests run on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
