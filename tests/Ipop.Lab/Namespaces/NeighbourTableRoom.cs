using System.Globalization;

namespace Ipop.Lab.Namespaces;

/// <summary>
/// Room in the host's IPv4 neighbour (ARP) table for a lab of many switch-mode members, for as long as the lab runs.
/// </summary>
/// <remarks>
/// The kernel's neighbour table is one table for every network namespace, so its garbage-collection thresholds
/// (<c>net.ipv4.neigh.default.gc_thresh1..3</c>, 128 / 512 / 1024 by default) count the entries of all lab members
/// together. N members in one subnet resolve N·(N−1) addresses: 32 members need 992 entries, past
/// <c>gc_thresh2</c> (entries older than 5 s are collected) and near <c>gc_thresh3</c> (the kernel logs "neighbor table
/// overflow!" and ARP fails). On 32 separate machines each would hold 31. This raises the thresholds only when the
/// lab needs more than <c>gc_thresh2</c>, and puts the host's own values back when disposed, also after a failure.
/// </remarks>
public sealed class NeighbourTableRoom : IDisposable
{
    private const string Path = "/proc/sys/net/ipv4/neigh/default/gc_thresh";
    private readonly int[] _before;

    private NeighbourTableRoom(int[] before) => _before = before;

    /// <summary>What was changed, for the test's output.</summary>
    public string Description { get; private init; } = string.Empty;

    /// <summary>
    /// Makes room for <paramref name="entries"/> neighbour entries (plus the lab's underlay), or returns <c>null</c> when
    /// the host's thresholds already leave it.
    /// </summary>
    public static NeighbourTableRoom? Ensure(int entries)
    {
        int[] before = [Read(1), Read(2), Read(3)];
        int needed = entries + 256; // the underlay: routers, NAT boxes, servers
        if (before[1] >= needed)
        {
            return null;
        }

        int[] after = [Math.Max(before[0], needed / 4), Math.Max(before[1], needed * 2), Math.Max(before[2], needed * 4)];
        // Highest first going up and lowest first going down (Dispose), so gc_thresh1 <= gc_thresh2 <= gc_thresh3 holds at every step.
        for (int i = 2; i >= 0; i--)
        {
            Write(i + 1, after[i]);
        }

        return new NeighbourTableRoom(before)
        {
            Description = $"host neighbour table thresholds raised from {string.Join('/', before)} to {string.Join('/', after)} for {entries} entries (restored at the end)",
        };
    }

    /// <summary>Puts the host's thresholds back.</summary>
    public void Dispose()
    {
        for (int i = 0; i < 3; i++)
        {
            Write(i + 1, _before[i]);
        }
    }

    private static int Read(int n) => int.Parse(File.ReadAllText(Path + n).Trim(), CultureInfo.InvariantCulture);

    private static void Write(int n, int value) => File.WriteAllText(Path + n, value.ToString(CultureInfo.InvariantCulture));
}
