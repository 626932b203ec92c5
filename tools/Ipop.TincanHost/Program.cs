using System.CommandLine;
using Ipop.Samples.Hosting;
using Ipop.Samples.Hosting.Cli;
using Ipop.TincanHost;

// First: a SIGTERM from here on is a clean stop (exit 0), however early it comes.
using var shutdown = new ShutdownSignal();

// ipop-tincan: run a node with static peers, manage its key, or ask the running node (status, peers, ping, why, netcheck).
var configOption = new Option<FileInfo>("--config") { Description = "Path of the JSON configuration (see docs/tincan-host.md).", Required = true };
var run = new Command("run", "Create the virtual interface, link to the configured peers and forward packets until SIGTERM/SIGINT.") { configOption };
run.SetAction((parse, _) => HostRunner.RunAsync(parse.GetValue(configOption)!, shutdown.Token));

var keyOption = new Option<FileInfo>("--key") { Description = "Path of the private key file.", Required = true };
var genkey = new Command("genkey", "Create a private key file (mode 0600) if missing and print its public key.") { keyOption };
genkey.SetAction(parse => KeyCommands.GenerateKey(parse.GetValue(keyOption)!));

var root = new RootCommand("Ipop Tincan node: encrypted peer-to-peer links between virtual network interfaces.") { run, genkey };

// status, peers, ping, why, netcheck: clients of the running node's status socket (docs/cli.md).
foreach (Command command in CliCommands.Create("ipop-tincan", shutdown.Token))
{
    root.Add(command);
}

// A wrong command line exits 2; signals are ours (above), not System.CommandLine's.
return await CliCommands.InvokeAsync(root, args, "ipop-tincan");
