namespace Ipop.TincanHost;

/// <summary>The JSON configuration of <c>ipop-tincan</c> (see docs/tincan-host.md).</summary>
internal sealed class HostConfig
{
    /// <summary>Bound straight onto the library's options, so every Tincan setting (STUN/TURN servers, rekey, ...) is available here.</summary>
    public Ipop.Tincan.TincanOptions Tincan { get; set; } = new();

    /// <summary>A virtual interface with static peers; <c>null</c> when an external controller creates interfaces through <see cref="ControllerApi"/>.</summary>
    public InterfaceSection? Interface { get; set; }

    /// <summary>
    /// The controller API (an external controller, any language, drives this Tincan over a Unix socket); <c>null</c>
    /// for a static-peers node only. Bound straight onto the library's options, under the name docs/controller-api.md
    /// uses, so every documented setting is available here and is checked by the library's own validator.
    /// </summary>
    public Ipop.Tincan.Api.ControllerApiOptions? ControllerApi { get; set; }

    public List<PeerSection> Peers { get; set; } = [];

    /// <summary>The status socket the CLI commands (status, peers, ping, why, netcheck) talk to.</summary>
    public StatusSocketSection Status { get; set; } = new();

    /// <summary>
    /// Seconds between status lines in the log; 0 (the default) disables them: an idle node must not wake up just to
    /// log (issue 14), and the controller API's <c>status</c> answers on demand.
    /// </summary>
    public int StatusIntervalSeconds { get; set; }
}

internal sealed class InterfaceSection
{
    public string Name { get; set; } = "ipop0";

    public string Mode { get; set; } = "tun";

    public int Mtu { get; set; } = VirtualInterfaceOptions.DefaultMtu;

    public List<string> Addresses { get; set; } = [];

    public string? MacAddress { get; set; }

    /// <summary>Segmentation and receive offloads on the device (see <see cref="VirtualInterfaceOptions.Offload"/>).</summary>
    public bool Offload { get; set; } = true;

    /// <summary>
    /// Forward packets between peers in Tincan (overlay forwarding, docs/routing.md): a packet from one peer for an address
    /// another peer's allowed IPs cover is sent on to it, one hop older, whatever the kernel's ip_forward says. TUN only.
    /// </summary>
    public bool Forward { get; set; }
}

internal sealed class PeerSection
{
    public string Id { get; set; } = string.Empty;

    public string PublicKey { get; set; } = string.Empty;

    public string Endpoint { get; set; } = string.Empty;

    public List<string> AllowedIps { get; set; } = [];
}

internal sealed class StatusSocketSection
{
    public string SocketPath { get; set; } = Ipop.Samples.Hosting.Cli.CliCommands.DefaultSocket("ipop-tincan");
}
