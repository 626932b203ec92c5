namespace Ipop.Tincan.Api.Internal;

/// <summary>Used when the host registers no <see cref="IControllerRouterFactory"/>.</summary>
internal sealed class BuiltInRouterFactory : IControllerRouterFactory
{
    public static BuiltInRouterFactory Instance { get; } = new();

    public IControllerRouter Create(VirtualInterfaceMode mode) => mode == VirtualInterfaceMode.Tap ? new MacRouter() : new PrefixRouter();
}
