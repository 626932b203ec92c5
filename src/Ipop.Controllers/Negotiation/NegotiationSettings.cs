namespace Ipop.Controllers;

/// <summary>Timing of a <see cref="LinkNegotiator"/>. The defaults suit the internet; tests shorten them.</summary>
public sealed class NegotiationSettings
{
    /// <summary>First delay between attempts for one peer; doubles per failed attempt up to <see cref="RetryMax"/>. Default 1 s.</summary>
    public TimeSpan RetryMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Cap of the delay between attempts. Default 30 s.</summary>
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long links outlive a signaling outage before they end: while signaling is down nobody's trust can be
    /// re-checked. Default one hour.
    /// </summary>
    public TimeSpan OutageLinkLifetime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>An offer not answered this long counts as a failed attempt. Default 10 s.</summary>
    public TimeSpan AnswerTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A link still connecting after this long is stuck and made again (Tincan itself gives up after its handshake
    /// attempts, 6 x 3 s by default, plus the checks; this is the safety net for a link that never reports). Default 45 s.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// After signaling returns, how long a peer that is not (yet) back keeps its working link: after a server
    /// restart every node logs in again on its own schedule, and its absence is not a sign that it left. Default 120 s.
    /// </summary>
    public TimeSpan ReconnectGrace { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// How long a peer whose signaling session merely ended (not a removal) keeps a Connected link: a moving network
    /// resets its connection and it logs in again within seconds. Default 15 s; zero ends the link at once.
    /// </summary>
    public TimeSpan PresenceGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Source of backoff jitter (tests seed it).</summary>
    internal Random Random { get; init; } = Random.Shared;

    /// <summary>Checks every value; the message names the property and the rule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        Positive(RetryMin, nameof(RetryMin));
        if (RetryMax < RetryMin)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryMax), RetryMax, $"NegotiationSettings.RetryMax ({RetryMax}) must be at least RetryMin ({RetryMin}).");
        }

        Positive(OutageLinkLifetime, nameof(OutageLinkLifetime));
        Positive(AnswerTimeout, nameof(AnswerTimeout));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        NotNegative(ReconnectGrace, nameof(ReconnectGrace));
        NotNegative(PresenceGrace, nameof(PresenceGrace));
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"NegotiationSettings.{name} must be greater than zero, got {value}.");
        }
    }

    private static void NotNegative(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"NegotiationSettings.{name} must not be negative, got {value}.");
        }
    }
}
