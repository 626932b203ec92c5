namespace Ipop;

/// <summary>Creates virtual network interfaces (e.g. Linux TUN/TAP through <c>/dev/net/tun</c>).</summary>
public interface IVirtualInterfaceFactory
{
    /// <summary>Creates, configures and returns a new interface.</summary>
    /// <exception cref="VirtualInterfaceException">The interface could not be created or configured; the message says why.</exception>
    IVirtualInterface Create(VirtualInterfaceOptions options);
}
