using CmpCluster.Silo.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace CmpCluster.Tests.Storage;

/// <summary>A throw-away directory for one test's database; deleted on dispose.</summary>
internal sealed class TempDataDirectory : IDisposable
{
    public TempDataDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cmp-sqlite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string DatabasePath => System.IO.Path.Combine(Path, SqliteStoreOptions.DefaultFileName);

    public SqliteStoreOptions Options(IGrainStorageSerializer? serializer = null) => new()
    {
        DataDirectory = Path,
        GrainStorageSerializer = serializer!,
    };

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leaked temp directory must not fail the test run.
        }
    }
}

/// <summary>
/// The pieces a silo would inject into the storage provider, built without a silo.
/// </summary>
internal static class StorageServices
{
    private static readonly ServiceProvider Services = new ServiceCollection().AddSerializer().BuildServiceProvider();

    public static IActivatorProvider Activators => Services.GetRequiredService<IActivatorProvider>();

    /// <summary>
    /// "json" is what an Orleans 10 silo registers by default (JsonGrainStorageSerializer over
    /// Newtonsoft); "orleans" is the binary OrleansGrainStorageSerializer.
    /// </summary>
    public static IGrainStorageSerializer Serializer(string kind) => kind switch
    {
        "json" => new JsonGrainStorageSerializer(new OrleansJsonSerializer(Options.Create(new OrleansJsonSerializerOptions()))),
        "orleans" => new OrleansGrainStorageSerializer(Services.GetRequiredService<Serializer>()),
        // What the node registers (silo/Program.cs): Orleans' binary format through one reused buffer per thread.
        "pooled" => new PooledGrainStorageSerializer(Services.GetRequiredService<Serializer>()),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
