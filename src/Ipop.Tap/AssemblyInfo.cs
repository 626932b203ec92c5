using System.Runtime.Versioning;

// Every type here drives Linux kernel interfaces: /dev/net/tun ioctls, rtnetlink, virtio_net_hdr offloads. On
// another OS nothing in this package can work, so callers get CA1416 at build time instead of an exception at run
// time (a caller on Linux-only code marks itself the same way, or guards with OperatingSystem.IsLinux()).
[assembly: SupportedOSPlatform("linux")]
