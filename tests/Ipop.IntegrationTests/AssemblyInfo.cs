// The lab needs Linux network namespaces, TUN/TAP and iptables.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
