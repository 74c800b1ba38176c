using System.Net;
using System.Net.Sockets;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Where the node binary is and what a node start needs from the machine: the dotnet host and free ports.</summary>
public static class NodeLaunch
{
    /// <summary>
    /// The silo as built for this test run: the project reference copies CmpCluster.Silo.dll (with its deps.json,
    /// runtimeconfig.json and appsettings.json) next to the test assembly. Falls back to silo/bin/&lt;Configuration&gt;.
    /// </summary>
    public static (string Dll, string ContentRoot) LocateSilo()
    {
        string baseDirectory = AppContext.BaseDirectory;
        var candidates = new List<string> { Path.Combine(baseDirectory, "CmpCluster.Silo.dll") };
        string? configuration = new DirectoryInfo(baseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name;
        if (RepositoryRoot() is { } root)
        {
            candidates.Add(Path.Combine(root, "silo", "bin", configuration ?? "Debug", "net10.0", "CmpCluster.Silo.dll"));
        }
        foreach (string dll in candidates)
        {
            string directory = Path.GetDirectoryName(dll)!;
            if (File.Exists(dll) && File.Exists(Path.Combine(directory, "appsettings.json"))
                && File.Exists(Path.Combine(directory, "CmpCluster.Silo.runtimeconfig.json")))
            {
                return (dll, directory);
            }
        }
        throw new FileNotFoundException(
            "CmpCluster.Silo.dll with appsettings.json and runtimeconfig.json not found; looked at: " + string.Join(", ", candidates));
    }

    /// <summary>The dotnet host that runs this test process (so the node runs on the same runtime).</summary>
    public static string DotnetHost()
    {
        string? fromCli = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromCli) && File.Exists(fromCli))
        {
            return fromCli;
        }
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }
        return "dotnet";
    }

    /// <summary>Distinct free loopback ports: all listeners are held open together so no two are the same.</summary>
    public static int[] FreeLoopbackPorts(int count)
    {
        var listeners = new List<TcpListener>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (TcpListener listener in listeners)
            {
                listener.Stop();
            }
        }
    }

    /// <summary>The checkout this test run was built from (the folder holding Cluster.sln), or null.</summary>
    public static string? RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}
