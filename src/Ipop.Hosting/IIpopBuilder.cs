namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// What <see cref="IpopServiceCollectionExtensions.AddIpop"/> returns: the packages' <c>Add*</c> methods
/// (<c>AddTincan</c>, <c>AddLinuxTunTap</c>, <c>AddXmppSignaling</c>, <c>AddGroupVpn</c>, <c>AddSocialVpn</c>,
/// <see cref="IpopBuilderExtensions.AddController{T}"/>, <c>AddControllerApi</c>) extend it and chain.
/// </summary>
public interface IIpopBuilder
{
    /// <summary>The service collection the builder registers into.</summary>
    IServiceCollection Services { get; }
}
