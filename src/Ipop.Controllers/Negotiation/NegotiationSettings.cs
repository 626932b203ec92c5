namespace Ipop.Controllers.Negotiation;

/// <summary>Timing of the link negotiation loop (from the controller's options; tests shorten or seed it).</summary>
/// <param name="RetryMin">First delay between attempts for one peer; doubles per failed attempt.</param>
/// <param name="RetryMax">Cap of that delay.</param>
/// <param name="OutageLinkLifetime">How long links outlive a signaling outage before they end (membership can no longer be re-checked).</param>
internal sealed record NegotiationSettings(TimeSpan RetryMin, TimeSpan RetryMax, TimeSpan OutageLinkLifetime)
{
    /// <summary>An offer not answered this long counts as a failed attempt.</summary>
    public TimeSpan AnswerTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A link still connecting after this long is stuck (Tincan itself gives up after its handshake attempts,
    /// 6 x 3 s by default, plus the checks; this is the safety net for a link that never reports).
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// After signaling returns, how long a peer that is not (yet) back keeps its working link: after a server
    /// restart every node logs in again on its own schedule, and its absence is not a sign that it left.
    /// </summary>
    public TimeSpan ReconnectGrace { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// How long a peer whose signaling session merely ended (not a removal) keeps a Connected link: a moving network
    /// resets its connection and it logs in again within seconds (default 15 s; zero ends the link at once).
    /// </summary>
    public TimeSpan PresenceGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Source of backoff jitter.</summary>
    public Random Random { get; init; } = Random.Shared;
}
