using Ipop.Simulator;

return SimulatorCli.Run(args, Console.Out, Console.Error);
