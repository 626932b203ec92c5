using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Ipop.Samples.Hosting.Cli;

/// <summary>
/// The commands every host shares, each a client of the running node's status socket (see docs/cli.md):
/// <c>status</c>, <c>peers</c>, <c>ping PEER</c>, <c>why PEER</c> and <c>netcheck</c>. Exit codes: 0 done, 1 the node
/// or the network failed (no socket, no reply, no such peer), 2 the command line is wrong.
/// </summary>
internal static class CliCommands
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Default status socket path of a product.</summary>
    public static string DefaultSocket(string product) => $"/run/ipop/{product}.sock";

    /// <summary>The five commands for <paramref name="product"/> (e.g. <c>groupvpn</c>).</summary>
    public static IEnumerable<Command> Create(string product, CancellationToken stop, TextWriter? output = null, TextWriter? errors = null)
    {
        TextWriter Out() => output ?? Console.Out;
        TextWriter Err() => errors ?? Console.Error;
        var socket = new Option<string>("--socket") { Description = $"The node's status socket (default: Status:SocketPath of --config, else {DefaultSocket(product)})." };
        var config = new Option<FileInfo>("--config") { Description = "The node's JSON configuration: its Status:SocketPath is used." };
        config.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<FileInfo>() is { Exists: false } missing)
            {
                r.AddError($"--config {missing.FullName}: no such file");
            }
        });
        var json = new Option<bool>("--json") { Description = "Print the node's answer as JSON (one object) instead of a table." };
        var peer = new Argument<string>("peer") { Description = "The peer: its id or one of its overlay addresses." };
        var count = new Option<int>("--count", "-c") { Description = "Echoes to send (one a second).", DefaultValueFactory = _ => 4 };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 10_000)
            {
                r.AddError("--count must be between 1 and 10000");
            }
        });
        var timeout = new Option<double>("--timeout", "-W") { Description = "Seconds to wait for each reply (ping) or each server (netcheck).", DefaultValueFactory = _ => 2 };
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is <= 0 or > 30)
            {
                r.AddError("--timeout must be more than 0 and at most 30 seconds");
            }
        });

        string SocketOf(ParseResult p) => p.GetValue(socket) ?? SocketFromConfig(p.GetValue(config)) ?? DefaultSocket(product);

        var status = new Command("status", "Show the running node: its addresses and each peer's link.") { socket, config, json };
        status.SetAction((p, _) => RunAsync(product, SocketOf(p), Err(), async client =>
        {
            CliResponse r = await client.SendAsync(new CliRequest("status"), RequestTimeout, stop);
            Print(Out(), p.GetValue(json), () => JsonSerializer.Serialize(r.Status!, CliJson.Default.StatusReport), w => CliText.Status(w, r.Status!));
            return 0;
        }, stop));

        var peers = new Command("peers", "List the peers: overlay addresses, path (direct/relayed), the candidate pair in use, RTT, traffic, last handshake.") { socket, config, json };
        peers.SetAction((p, _) => RunAsync(product, SocketOf(p), Err(), async client =>
        {
            CliResponse r = await client.SendAsync(new CliRequest("peers"), RequestTimeout, stop);
            Print(Out(), p.GetValue(json), () => JsonSerializer.Serialize(r.Peers ?? [], CliJson.Default.IReadOnlyListPeerView), w => CliText.Peers(w, r.Peers ?? []));
            return 0;
        }, stop));

        var why = new Command("why", "Explain a link that is not up or is relayed: last failure, candidates on each side, which checks failed.") { peer, socket, config, json };
        why.SetAction((p, _) => RunAsync(product, SocketOf(p), Err(), async client =>
        {
            CliResponse r = await client.SendAsync(new CliRequest("why", p.GetValue(peer)), RequestTimeout, stop);
            Print(Out(), p.GetValue(json), () => JsonSerializer.Serialize(r.Why!, CliJson.Default.WhyView), w => CliText.Why(w, r.Why!));
            return 0;
        }, stop));

        var netcheck = new Command("netcheck", "Ask the configured STUN/TURN servers what this node's NAT does: cone or symmetric mapping, IPv6, each server's latency.") { socket, config, json, timeout };
        netcheck.SetAction((p, _) => RunAsync(product, SocketOf(p), Err(), async client =>
        {
            TimeSpan wait = TimeSpan.FromSeconds(p.GetValue(timeout));
            CliResponse r = await client.SendAsync(new CliRequest("netcheck", TimeoutMs: (int)wait.TotalMilliseconds), wait + RequestTimeout, stop);
            Print(Out(), p.GetValue(json), () => JsonSerializer.Serialize(r.NetCheck!, CliJson.Default.NetCheckView), w => CliText.NetCheck(w, r.NetCheck!));
            return 0;
        }, stop));

        var ping = new Command("ping", "Echo through the link to a peer (inside the tunnel: TUN or TAP, no IP needed); print each reply's path and RTT and when the path changes.") { peer, socket, config, json, count, timeout };
        ping.SetAction((p, _) => RunAsync(product, SocketOf(p), Err(), client => PingAsync(client, Out(), p.GetValue(peer)!, p.GetValue(count), TimeSpan.FromSeconds(p.GetValue(timeout)), p.GetValue(json), stop), stop));

        return [status, peers, ping, why, netcheck];
    }

    /// <summary>Parses and runs: a wrong command line prints its errors and exits 2.</summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args, string product)
    {
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"{product}: {error.Message}");
            }

            return 2;
        }

        // Without a timeout System.CommandLine leaves termination to us instead of forcing an exit code after 2 s.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    internal static async Task<int> PingAsync(StatusClient client, TextWriter w, string peer, int count, TimeSpan timeout, bool json, CancellationToken stop)
    {
        var rtts = new List<double>();
        PingView? last = null;
        int sent = 0;
        int sincePathChange = 0;
        for (int i = 0; i < count && !stop.IsCancellationRequested; i++)
        {
            if (i > 0)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            CliResponse r = await client.SendAsync(new CliRequest("ping", peer, (int)timeout.TotalMilliseconds), timeout + RequestTimeout, stop);
            PingView reply = r.Ping!;
            sent++;
            sincePathChange++;
            if (json)
            {
                w.WriteLine(JsonSerializer.Serialize(reply, CliJson.Default.PingView));
                continue;
            }

            if (reply.Replied)
            {
                rtts.Add(reply.RttMs ?? 0);
                if (last is not null && (last.Path != reply.Path || !Equals(last.Local, reply.Local) || !Equals(last.Remote, reply.Remote)))
                {
                    w.WriteLine(CliText.PathChange(last, reply, sincePathChange - 1));
                    sincePathChange = 1;
                }

                last = reply;
            }

            w.WriteLine(CliText.PingLine(reply));
        }

        if (!json)
        {
            w.WriteLine(CliText.PingSummary(peer, sent, rtts));
        }

        return rtts.Count > 0 || json ? 0 : 1;
    }

    private static async Task<int> RunAsync(string product, string socket, TextWriter errors, Func<StatusClient, Task<int>> action, CancellationToken stop)
    {
        try
        {
            await using StatusClient client = await StatusClient.ConnectAsync(socket, stop);
            return await action(client);
        }
        catch (StatusClientException e)
        {
            await errors.WriteLineAsync($"{product}: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 1;
        }
    }

    private static void Print(TextWriter w, bool json, Func<string> asJson, Action<TextWriter> text)
    {
        if (json)
        {
            w.WriteLine(asJson());
        }
        else
        {
            text(w);
        }
    }

    /// <summary>Status:SocketPath of a config file, or null (the file is the node's; errors in it are the node's to report).</summary>
    private static string? SocketFromConfig(FileInfo? file)
    {
        if (file is null || !file.Exists)
        {
            return null;
        }

        try
        {
            return new ConfigurationBuilder().AddJsonFile(file.FullName, optional: true).Build()["Status:SocketPath"];
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}
