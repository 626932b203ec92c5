using Ipop.Fuzz.Harnesses;

namespace Ipop.Fuzz;

/// <summary>Every harness, by name.</summary>
internal static class HarnessCatalog
{
    /// <summary>Created lazily: some harnesses build a node or a server once per process.</summary>
    private static readonly Dictionary<string, Func<IHarness>> Factories = new(StringComparer.Ordinal)
    {
        ["stun"] = static () => new StunHarness(),
        ["channel-data"] = static () => new ChannelDataHarness(),
        ["tincan-messages"] = static () => new TincanMessagesHarness(),
        ["tincan-receive"] = static () => new TincanReceiveHarness(),
        ["xmpp-stream"] = static () => new XmppStreamHarness(),
        ["dns-srv"] = static () => new DnsSrvHarness(),
        ["link-negotiation"] = static () => new LinkNegotiationHarness(),
        ["link-descriptor"] = static () => new LinkDescriptorHarness(),
        ["controller-api"] = static () => new ControllerApiHarness(),
        ["socialvpn-translator"] = static () => new TranslatorHarness(),
        ["learning-switch"] = static () => new LearningSwitchHarness(),
        ["tap-offload"] = static () => new TapOffloadHarness(),
        ["node-key-file"] = static () => new NodeKeyFileHarness(),
        ["host-config"] = static () => new HostConfigHarness(),
    };

    public static IReadOnlyCollection<string> Names => Factories.Keys;

    public static IHarness? TryCreate(string name) => Factories.TryGetValue(name, out Func<IHarness>? factory) ? factory() : null;
}
