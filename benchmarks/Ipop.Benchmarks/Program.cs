using BenchmarkDotNet.Running;

// Run all or some benchmarks: dotnet run -c Release --project benchmarks/Ipop.Benchmarks -- --filter '*Seal*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
