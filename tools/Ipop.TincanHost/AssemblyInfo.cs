// The host serves TUN/TAP (Ipop.Tap) and a Unix domain socket; it is built and shipped for Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
