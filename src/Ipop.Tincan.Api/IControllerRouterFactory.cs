namespace Ipop.Tincan.Api;

/// <summary>
/// Makes the router the API attaches with a new interface. Register one in DI to plug in the host's
/// routers; without one the API uses a small built-in router (longest-prefix match with source checks
/// for TUN, a MAC table with learning and flooding for TAP).
/// </summary>
public interface IControllerRouterFactory
{
    /// <summary>Creates an empty router for an interface of <paramref name="mode"/>.</summary>
    IControllerRouter Create(VirtualInterfaceMode mode);
}
