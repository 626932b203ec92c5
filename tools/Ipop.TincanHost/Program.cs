using System.CommandLine;
using Ipop.TincanHost;

// ipop-tincan: run a node with static peers, or manage its key.
var configOption = new Option<FileInfo>("--config") { Description = "Path of the JSON configuration (see docs/tincan-host.md).", Required = true };
var run = new Command("run", "Create the virtual interface, link to the configured peers and forward packets until SIGTERM/SIGINT.") { configOption };
run.SetAction((parse, ct) => HostRunner.RunAsync(parse.GetValue(configOption)!, ct));

var keyOption = new Option<FileInfo>("--key") { Description = "Path of the private key file.", Required = true };
var genkey = new Command("genkey", "Create a private key file (mode 0600) if missing and print its public key.") { keyOption };
genkey.SetAction(parse => KeyCommands.GenerateKey(parse.GetValue(keyOption)!));

var root = new RootCommand("Ipop Tincan node: encrypted peer-to-peer links between virtual network interfaces.") { run, genkey };
return await root.Parse(args).InvokeAsync();
