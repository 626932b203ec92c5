namespace Ipop.Tincan.Stun;

/// <summary>
/// Client transaction timing over UDP (RFC 8489 section 6.2.1): send, wait RTO, resend with RTO doubled,
/// up to <see cref="MaxTransmissions"/> (Rc) sends, then wait <see cref="FinalWaitMultiplier"/> (Rm)
/// times the initial RTO. The defaults (500 ms, 7, 16) give sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and
/// 31.5 s and failure at 39.5 s.
/// </summary>
internal sealed record StunRetransmissionPolicy(TimeSpan InitialRto, int MaxTransmissions, int FinalWaitMultiplier)
{
    public static StunRetransmissionPolicy Default { get; } = new(TimeSpan.FromMilliseconds(500), 7, 16);

    /// <summary>Upper bound for one doubled interval; RFC 8489 leaves it open, a cap keeps failures timely on lossy paths.</summary>
    public TimeSpan MaxRto { get; init; } = TimeSpan.FromSeconds(16);

    /// <summary>Time from the first send until the transaction fails.</summary>
    public TimeSpan TotalTimeout
    {
        get
        {
            TimeSpan total = TimeSpan.Zero;
            TimeSpan rto = InitialRto;
            for (int i = 1; i < MaxTransmissions; i++)
            {
                total += rto;
                rto = rto * 2 > MaxRto ? MaxRto : rto * 2;
            }

            return total + (InitialRto * FinalWaitMultiplier);
        }
    }

    public void Validate()
    {
        if (InitialRto <= TimeSpan.Zero || MaxTransmissions < 1 || FinalWaitMultiplier < 1 || MaxRto < InitialRto)
        {
            throw new ArgumentException($"Invalid STUN retransmission policy {this}: RTO and multipliers must be positive, MaxRto >= InitialRto.");
        }
    }
}
