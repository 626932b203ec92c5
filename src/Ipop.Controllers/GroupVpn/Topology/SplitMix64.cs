namespace Ipop.Controllers.GroupVpn.Topology;

/// <summary>
/// A tiny deterministic generator (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", 2014) for the
/// long-link draws: the same seed gives the same sequence on every machine and runtime, which System.Random does not
/// promise across .NET versions, and every member must compute every other member's draws identically.
/// </summary>
internal struct SplitMix64
{
    private ulong _state;

    /// <summary>A generator for <paramref name="seed"/>.</summary>
    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        unchecked
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>A double uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / 9007199254740992.0);
}
