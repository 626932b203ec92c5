using System.CommandLine;

namespace Ipop.Simulator;

/// <summary>The command line: options, their checks, and the run.</summary>
internal static class SimulatorCli
{
    /// <summary>Parses <paramref name="args"/> and runs; a wrong command line prints one error line and returns 2.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var nodes = new Option<int>("--nodes") { Description = "Members online at the start (kept under churn).", DefaultValueFactory = _ => 1000 };
        nodes.Validators.Add(r => Range(r, Value<int>(r), 2, 100_000, "--nodes must be between 2 and 100000"));
        var topology = new Option<string>("--topology") { Description = "mesh or structured.", DefaultValueFactory = _ => "structured" };
        topology.Validators.Add(r =>
        {
            string? value = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
            if (value is not null and not "mesh" and not "structured")
            {
                r.AddError($"--topology must be mesh or structured, not '{value}'");
            }
        });
        var churn = new Option<double>("--churn") { Description = "Members replaced per simulated minute, in percent (0: no churn phase).", DefaultValueFactory = _ => 10 };
        churn.Validators.Add(r => Range(r, Value<double>(r), 0, 100, "--churn must be between 0 and 100 (percent per minute)"));
        var seed = new Option<int>("--seed") { Description = "Seeds every random choice.", DefaultValueFactory = _ => 1 };
        var duration = new Option<double>("--duration") { Description = "Simulated seconds of the churn phase.", DefaultValueFactory = _ => 60 };
        duration.Validators.Add(r => Range(r, Value<double>(r), 1, 3600, "--duration must be between 1 and 3600 seconds"));
        var k = new Option<int>("--ring-neighbours") { Description = "k: ring successors and predecessors.", DefaultValueFactory = _ => 2 };
        k.Validators.Add(r => Range(r, Value<int>(r), 1, 16, "--ring-neighbours must be between 1 and 16"));
        var probes = new Option<int>("--probes") { Description = "Sampled pairs per phase (5x that under churn).", DefaultValueFactory = _ => 2000 };
        probes.Validators.Add(r => Range(r, Value<int>(r), 1, 1_000_000, "--probes must be between 1 and 1000000"));
        var loss = new Option<double>("--loss") { Description = "Loss of handshake datagrams, percent.", DefaultValueFactory = _ => 1 };
        loss.Validators.Add(r => Range(r, Value<double>(r), 0, 50, "--loss must be between 0 and 50 (percent)"));
        var symmetric = new Option<double>("--symmetric") { Description = "Members behind symmetric NATs, percent.", DefaultValueFactory = _ => 20 };
        symmetric.Validators.Add(r => Range(r, Value<double>(r), 0, 100, "--symmetric must be between 0 and 100 (percent)"));
        var crash = new Option<double>("--crash") { Description = "Leaves that are crashes instead of clean stops, percent.", DefaultValueFactory = _ => 0 };
        crash.Validators.Add(r => Range(r, Value<double>(r), 0, 100, "--crash must be between 0 and 100 (percent)"));
        var deadAfter = new Option<double>("--dead-after") { Description = "Seconds until a crashed member's links are found dead (Tincan: 3 keepalives + a handshake timeout).", DefaultValueFactory = _ => 33 };
        deadAfter.Validators.Add(r => Range(r, Value<double>(r), 0.1, 600, "--dead-after must be between 0.1 and 600 seconds"));
        var active = new Option<double>("--active") { Description = "Structured: members with a steady flow to another member, percent (on-demand links).", DefaultValueFactory = _ => 0 };
        active.Validators.Add(r => Range(r, Value<double>(r), 0, 100, "--active must be between 0 and 100 (percent)"));

        var engine = new Option<string>("--engine") { Description = "model: link setup modelled (fast, 10,000 members); real: every member runs the real GroupVpnController and LinkNegotiator on in-memory signaling (slower).", DefaultValueFactory = _ => "model" };
        engine.Validators.Add(r =>
        {
            string? value = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
            if (value is not null and not "model" and not "real")
            {
                r.AddError($"--engine must be model or real, not '{value}'");
            }
        });

        var root = new RootCommand("Simulates a GroupVPN of many members on a virtual clock (docs/scale.md).")
        {
            nodes, topology, churn, seed, duration, k, probes, loss, symmetric, crash, deadAfter, active, engine,
        };
        root.SetAction(parsed =>
        {
            var settings = new SimulationSettings
            {
                Nodes = parsed.GetValue(nodes),
                Topology = parsed.GetValue(topology) == "mesh" ? TopologyKind.Mesh : TopologyKind.Structured,
                ChurnPercentPerMinute = parsed.GetValue(churn),
                Seed = parsed.GetValue(seed),
                DurationSeconds = parsed.GetValue(duration),
                RingNeighbours = parsed.GetValue(k),
                Probes = parsed.GetValue(probes),
                Loss = parsed.GetValue(loss) / 100,
                SymmetricFraction = parsed.GetValue(symmetric) / 100,
                CrashFraction = parsed.GetValue(crash) / 100,
                DeadAfterSeconds = parsed.GetValue(deadAfter),
                ActivePercent = parsed.GetValue(active),
            };
            output.WriteLine($"simulating {settings.Nodes} members, topology {parsed.GetValue(topology)}, engine {parsed.GetValue(engine)}");
            if (parsed.GetValue(engine) == "real")
            {
                // The controllers' loops are pumped by hand on this thread; nothing here needs a synchronization context.
                using var real = new RealControllers(settings, output);
                foreach (string line in real.RunAsync().GetAwaiter().GetResult())
                {
                    output.WriteLine(line);
                }

                return 0;
            }

            SimulationResult result = new Simulation(settings, output).Run();
            foreach (string line in result.Report())
            {
                output.WriteLine(line);
            }

            return 0;
        });

        ParseResult result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            // One line: the first error names the option and the rule; the rest are usually its echoes.
            error.WriteLine($"ipop-simulator: {result.Errors[0].Message.ReplaceLineEndings(" ").Replace('\t', ' ')}");
            return 2;
        }

        return result.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    // A value that does not even parse has its conversion error already; the range check has nothing to say then.
    private static T? Value<T>(System.CommandLine.Parsing.OptionResult r)
        where T : struct
    {
        try
        {
            return r.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static void Range(System.CommandLine.Parsing.OptionResult r, double? value, double min, double max, string message)
    {
        if (value is { } v && (v < min || v > max))
        {
            r.AddError(message);
        }
    }
}
