namespace Ipop.Tincan.DataPlane.Mtu;

/// <summary>
/// The DPLPMTUD constants of a node (RFC 8899 section 5.1), in <see cref="TimeProvider.GetTimestamp"/> ticks, derived
/// once from <see cref="TincanOptions"/> so the prober takes plain numbers and tests build it without a node.
/// </summary>
internal sealed record PathMtuSettings
{
    /// <summary>Smallest underlay IPv4 packet assumed to cross any path (RFC 8899 section 5.1.2 recommends 1200 for IPv4).</summary>
    public const int BaseIpv4 = 1200;

    /// <summary>Smallest underlay IPv6 packet every path carries (RFC 8200 section 5).</summary>
    public const int BaseIpv6 = 1280;

    /// <summary>Whether links probe at all; when off, every link assumes the whole tunnel MTU fits.</summary>
    public required bool Enabled { get; init; }

    /// <summary>How long a round of probes waits for acknowledgments (RFC 8899 PROBE_TIMER).</summary>
    public required long ProbeTimeout { get; init; }

    /// <summary>Rounds in a row with nothing acknowledged before the prober gives up on the size (MAX_PROBES).</summary>
    public required int MaxProbes { get; init; }

    /// <summary>After a search, how long until the prober tries a larger size again (PMTU_RAISE_TIMER).</summary>
    public required long RaiseInterval { get; init; }

    /// <summary>While full-size traffic flows, how often the size in use is confirmed (black hole detection).</summary>
    public required long ConfirmInterval { get; init; }

    /// <summary>Probes per search round: the size already confirmed plus candidates spread over the range left.</summary>
    public int ProbesPerRound { get; init; } = 8;

    /// <summary>Builds the settings from the node's options.</summary>
    public static PathMtuSettings From(TincanOptions options, long frequency)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new PathMtuSettings
        {
            Enabled = options.PathMtuDiscovery,
            ProbeTimeout = Ticks(options.PathMtuProbeTimeout, frequency),
            MaxProbes = options.PathMtuMaxProbes,
            RaiseInterval = Ticks(options.PathMtuRaiseInterval, frequency),
            ConfirmInterval = Ticks(options.PathMtuConfirmInterval, frequency),
        };
    }

    private static long Ticks(TimeSpan span, long frequency) => (long)(span.TotalSeconds * frequency);
}
