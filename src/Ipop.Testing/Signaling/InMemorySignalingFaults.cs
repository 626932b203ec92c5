namespace Ipop.Testing;

/// <summary>
/// Bad luck for <see cref="InMemorySignalingNetwork"/> messages (set <see cref="InMemorySignalingNetwork.Faults"/>):
/// each message sent with <see cref="InMemorySignaling.SendAsync"/> may be dropped, delivered twice, or held back
/// and delivered after later messages. Presence and connection events are never touched, as with XMPP, whose
/// server delivers presence reliably but whose messages to a peer can be lost (e.g. in a reconnect).
/// </summary>
public sealed class InMemorySignalingFaults
{
    /// <summary>Creates faults drawn from <paramref name="random"/> (seed it to make a run repeatable).</summary>
    public InMemorySignalingFaults(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Random = random;
    }

    /// <summary>The source of every decision (used under the network's lock, so one instance is safe).</summary>
    public Random Random { get; }

    /// <summary>Share of messages silently lost (0..1).</summary>
    public double DropProbability { get; init; }

    /// <summary>Share of messages delivered twice (0..1).</summary>
    public double DuplicateProbability { get; init; }

    /// <summary>Share of messages held back and delivered after later ones (0..1).</summary>
    public double ReorderProbability { get; init; }

    internal bool Roll(double probability) => probability > 0 && Random.NextDouble() < probability;

    internal void Validate()
    {
        foreach ((string name, double p) in new[] { (nameof(DropProbability), DropProbability), (nameof(DuplicateProbability), DuplicateProbability), (nameof(ReorderProbability), ReorderProbability) })
        {
            if (!(p >= 0 && p <= 1))
            {
                throw new ArgumentOutOfRangeException(name, p, $"{name} must be between 0 and 1.");
            }
        }
    }
}
