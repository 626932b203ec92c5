using Ipop.Samples.Hosting;
using Ipop.Tincan;
using Ipop.Tincan.Api;

namespace Ipop.TincanHost;

/// <summary>
/// Every object type of the <see cref="HostConfig"/> file, for the strict key check. Listed explicitly so a Native AOT
/// build keeps their property metadata; kept out of <see cref="HostConfig"/> so the binder does not see it as a key.
/// </summary>
internal static class HostConfigSchema
{
    public static ConfigSchema Value { get; } = ConfigSchema.Of<HostConfig>()
        .With<TincanOptions>().With<StunServerOptions>().With<TurnServerOptions>()
        .With<InterfaceSection>().With<ControllerApiOptions>().With<PeerSection>().With<StatusSocketSection>();
}
