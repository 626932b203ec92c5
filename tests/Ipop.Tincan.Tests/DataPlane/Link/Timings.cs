using Ipop.Tincan.DataPlane.Link;

namespace Ipop.Tincan.Tests.DataPlane.Link;

/// <summary>The default options' timings on a clock that counts milliseconds, so tests read in ms.</summary>
internal static class Timings
{
    public static readonly LinkTimings Default = LinkTimings.From(new TincanOptions(), 1000);
}
