using System.Diagnostics;
using System.Text.Json;

namespace Ipop.Tap.Tests;

/// <summary>Small helpers shared by the device tests.</summary>
internal static class TestDevices
{
    public static readonly LinuxTunTapFactory Factory = new();

    /// <summary>Reads packets until one matches, skipping the kernel's own chatter (MLD, router solicitations); bounded in count and time.</summary>
    public static int ReadUntil(IVirtualInterface device, byte[] buffer, Func<byte[], int, bool> match, int timeoutMilliseconds = 4000)
    {
        using var cts = new CancellationTokenSource(timeoutMilliseconds);
        for (int i = 0; i < 200; i++)
        {
            int n = device.Read(buffer, cts.Token);
            if (match(buffer, n))
            {
                return n;
            }
        }

        throw new InvalidOperationException("No matching packet among the first 200 read.");
    }

    /// <summary>The JSON object <c>ip -j</c> prints for one link, or null if the link does not exist.</summary>
    public static JsonElement? Show(NetworkNamespace ns, string what, string name)
    {
        CommandResult result = NetworkNamespace.Run("ip", "-n", ns.Name, "-j", what, "show");
        result.EnsureSuccess();
        using JsonDocument doc = JsonDocument.Parse(result.Output);
        foreach (JsonElement link in doc.RootElement.EnumerateArray())
        {
            if (link.GetProperty("ifname").GetString() == name)
            {
                return link.Clone();
            }
        }

        return null;
    }

    public static long ElapsedMilliseconds(long start) => (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds;
}
