using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Tap;

/// <summary>
/// Creates Linux TUN/TAP interfaces through <c>/dev/net/tun</c> and configures them (MAC, MTU, addresses,
/// up) through rtnetlink. Needs root or CAP_NET_ADMIN.
/// </summary>
/// <remarks>
/// The interface, and the netlink socket that configures it for its whole life, are created in the network
/// namespace of the thread that calls <see cref="Create"/>; run the host under <c>ip netns exec</c> to place it
/// in another namespace. Disposing the interface (or the process exiting) removes it.
/// </remarks>
// Linux only (/dev/net/tun ioctls, rtnetlink, virtio_net_hdr offloads): constructing it elsewhere is CA1416 at build
// time. AddLinuxTunTap is not marked, so a host's Program.cs needs no platform guard; resolving the factory on another
// OS throws a PlatformNotSupportedException that says why.
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LinuxTunTapFactory : IVirtualInterfaceFactory
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates the factory.</summary>
    /// <param name="loggerFactory">Logs creation, removal and rate-limited write rejections; none if <c>null</c>.</param>
    /// <param name="timeProvider">Clock for log rate limiting; <see cref="TimeProvider.System"/> if <c>null</c>.</param>
    public LinuxTunTapFactory(ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    /// <exception cref="PlatformNotSupportedException">Not running on Linux.</exception>
    public IVirtualInterface Create(VirtualInterfaceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        VirtualInterfaceOptionsValidator.Validate(options);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("TUN/TAP through /dev/net/tun is only available on Linux.");
        }

        return TunTapDevice.Create(options, _loggerFactory.CreateLogger("Ipop.Tap.TunTapDevice"), _timeProvider);
    }
}
