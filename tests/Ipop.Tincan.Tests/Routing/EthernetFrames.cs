using System.Net.NetworkInformation;

namespace Ipop.Tincan.Tests.Routing;

/// <summary>Minimal Ethernet frames and MACs for the learning switch's tests, from colon-separated MAC text.</summary>
internal static class EthernetFrames
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
}
