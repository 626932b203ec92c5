using System.Net.NetworkInformation;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>Minimal Ethernet frames, MACs (from colon-separated text) and switches for the learning switch's tests.</summary>
internal static class SwitchTestKit
{
    /// <summary>A 60-byte IPv4-typed frame from <paramref name="src"/> to <paramref name="dst"/>.</summary>
    public static byte[] Frame(string dst, string src)
    {
        byte[] f = new byte[60];
        Convert.FromHexString(dst.Replace(":", string.Empty, StringComparison.Ordinal)).CopyTo(f, 0);
        Convert.FromHexString(src.Replace(":", string.Empty, StringComparison.Ordinal)).CopyTo(f, 6);
        f[12] = 0x08;
        return f;
    }

    /// <summary>The MAC written as <c>02:00:00:00:00:0a</c>.</summary>
    public static PhysicalAddress Mac(string text) => PhysicalAddress.Parse(text.Replace(':', '-').ToUpperInvariant());

    /// <summary>A switch in a structured overlay (ring position 100) whose own MAC is <paramref name="local"/>.</summary>
    public static LearningSwitch StructuredSwitch(string local)
    {
        var sw = new LearningSwitch();
        sw.SetRingPosition(100);
        sw.SetLocal(Mac(local));
        return sw;
    }
}
