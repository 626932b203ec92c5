// Ipop.Tap is Linux-only (TUN/TAP through /dev/net/tun, rtnetlink), and so are these tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
