using CmpCluster.LoadTests;

// Drives real CMP transactions against a node and reports throughput, latency percentiles and CPU per transaction.
return await LoadCommand.RunAsync(args, Console.Out, Console.Error);
