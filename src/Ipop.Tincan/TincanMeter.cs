namespace Ipop.Tincan;

/// <summary>
/// The <see cref="System.Diagnostics.Metrics.Meter"/> every Tincan node publishes its counters on: links, payload
/// bytes and packets per direction, completed handshakes and dropped datagrams by reason, named in the
/// OpenTelemetry style (<c>ipop.tincan.*</c>). Subscribe with <c>AddMeter(TincanMeter.Name)</c>.
/// </summary>
public static class TincanMeter
{
    /// <summary>The meter's name, "Ipop.Tincan".</summary>
    public const string Name = "Ipop.Tincan";
}
