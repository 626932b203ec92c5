namespace Ipop.Tincan.Api;

/// <summary>Settings of the Controller–Tincan API server (see <c>docs/controller-api.md</c>).</summary>
public sealed class ControllerApiOptions
{
    /// <summary>Largest line a Linux <c>sun_path</c> holds (108 bytes including the terminating NUL).</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>
    /// Absolute path of the Unix domain socket, e.g. <c>/run/ipop/tincan.sock</c>. Its directory must exist
    /// and must not be world-writable unless it has the sticky bit (like <c>/tmp</c>).
    /// </summary>
    public string SocketPath { get; set; } = string.Empty;

    /// <summary>Longest accepted request line in bytes, without its newline; a longer line closes that connection.</summary>
    public int MaxRequestBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Outgoing messages queued per client. Events that do not fit are dropped and counted (the client then
    /// gets an <c>events_dropped</c> event), so a client that stops reading never slows Tincan down.
    /// </summary>
    public int ClientQueueCapacity { get; set; } = 256;

    /// <summary>Most clients connected at once; further connections get a <c>too_many_clients</c> error and are closed.</summary>
    public int MaxClients { get; set; } = 16;

    /// <summary>Shortest <c>stats</c> event interval a client may ask for.</summary>
    public TimeSpan MinStatsInterval { get; set; } = TimeSpan.FromMilliseconds(100);
}
