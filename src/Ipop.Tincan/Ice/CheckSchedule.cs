namespace Ipop.Tincan.Ice;

/// <summary>
/// Timing of connectivity checks. Defaults are tuned for link setup in well under a second on a LAN
/// and a couple of seconds through NATs, while staying far below a flood: one new check every
/// <see cref="Pacing"/> (RFC 8445 §14.2's Ta), retransmissions doubling from <see cref="InitialRto"/>.
/// </summary>
internal sealed record CheckSchedule
{
    public TimeSpan Pacing { get; init; } = TimeSpan.FromMilliseconds(20);

    public TimeSpan InitialRto { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxRto { get; init; } = TimeSpan.FromMilliseconds(1600);

    /// <summary>Transmissions of one check before the pair fails (RFC 8489's Rc is 7).</summary>
    public int MaxAttempts { get; init; } = 7;

    /// <summary>
    /// How long the controlling side waits after the first success for better pairs before nominating. Better pairs
    /// are mostly host pairs on a shared LAN, whose round trips are far shorter than the internet path's, so they
    /// succeed first when they work at all; 50 ms covers their pacing without holding every link back.
    /// </summary>
    public TimeSpan NominationDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The same wait when the best pair that answered is relayed: direct pairs still in progress (a hole being
    /// punched) get this long before the link settles for the relay.
    /// </summary>
    public TimeSpan RelayedNominationDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>While the selected pair is relayed, failed direct pairs are checked again this often (relay -> direct upgrade).</summary>
    public TimeSpan DirectRecheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Consent freshness (RFC 7675): a check on the selected pair this often...</summary>
    public TimeSpan ConsentInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>...and the pair is considered dead after this long without any answer.</summary>
    public TimeSpan ConsentTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>A bound on pairs per link, against descriptors full of candidates.</summary>
    public int MaxPairs { get; init; } = 64;

    public static CheckSchedule Default { get; } = new();
}
