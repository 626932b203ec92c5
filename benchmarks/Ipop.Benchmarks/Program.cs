using BenchmarkDotNet.Running;
using Ipop.Benchmarks;

// Run all or some benchmarks: dotnet run -c Release --project benchmarks/Ipop.Benchmarks -- --filter '*Seal*'
// Loopback link throughput (two real nodes): dotnet run -c Release --project benchmarks/Ipop.Benchmarks -- throughput [seconds]
if (args.Length > 0 && args[0] == "throughput")
{
    await LoopbackThroughput.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
