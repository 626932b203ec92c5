using System.Globalization;
using Spectre.Console;

namespace Ipop.Samples.Hosting;

/// <summary>Renders a <see cref="StatusReport"/> for people.</summary>
public static class StatusTable
{
    /// <summary>Writes the report as a heading and a table of peers.</summary>
    public static void Write(IAnsiConsole console, StatusReport report)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(report);
        console.MarkupLine($"[bold]{Markup.Escape(report.Product)}[/] node [blue]{Markup.Escape(report.Node)}[/] on {Markup.Escape(report.Interface)} ({Markup.Escape(report.Mode)}) {Markup.Escape(string.Join(' ', report.Addresses))}");
        var table = new Table().AddColumns("peer", "addresses", "link", "path", "rtt", "sent", "received", "refused");
        foreach (PeerStatusRow p in report.Peers)
        {
            table.AddRow(
                Markup.Escape(p.Peer),
                Markup.Escape(string.Join(' ', p.Addresses)),
                Markup.Escape(p.Detail ?? p.State),
                Markup.Escape(p.Path),
                p.RttMilliseconds is { } rtt ? rtt.ToString("F1", CultureInfo.InvariantCulture) + " ms" : "-",
                Bytes(p.BytesSent),
                Bytes(p.BytesReceived),
                Refused(p));
        }

        console.Write(table);
    }

    /// <summary>Packets from the peer dropped by reason: "-" when none, else e.g. "12 spoofed, 3 replayed".</summary>
    private static string Refused(PeerStatusRow p)
    {
        var parts = new List<string>(3);
        if (p.DroppedSpoofed > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{p.DroppedSpoofed} spoofed"));
        }

        if (p.DroppedReplayed > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{p.DroppedReplayed} replayed"));
        }

        if (p.DroppedUnauthenticated > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{p.DroppedUnauthenticated} unauthenticated"));
        }

        return parts.Count == 0 ? "-" : string.Join(", ", parts);
    }

    private static string Bytes(long b) => b switch
    {
        < 1024 => $"{b} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0:F1} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{b / (1024.0 * 1024):F1} MiB"),
    };
}
