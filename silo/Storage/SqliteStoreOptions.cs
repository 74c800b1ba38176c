using Orleans.Storage;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// SQLite's <c>PRAGMA synchronous</c> levels, restricted to the ones that make sense with WAL.
/// </summary>
public enum SqliteSynchronousMode
{
    /// <summary>
    /// In WAL mode a commit only appends to the WAL file; SQLite fsyncs at checkpoints.
    /// Committed data lives in the OS page cache, so it survives the process being killed
    /// (SIGKILL, crash) but the most recent commits can be lost on power failure or kernel panic.
    /// The database itself never gets corrupted.
    /// </summary>
    Normal = 1,

    /// <summary>
    /// The WAL is fsynced on every commit, so a commit that returned also survives power loss.
    /// Costs one fsync per write.
    /// </summary>
    Full = 2,

    /// <summary>
    /// Like <see cref="Full"/>, and also syncs the directory after the WAL is reset.
    /// </summary>
    Extra = 3,
}

/// <summary>
/// Settings shared by <see cref="SqliteGrainStorage"/> and <see cref="SqliteReminderTable"/>.
/// Both default to the same file, so a single-node silo keeps all of its durable state in one
/// SQLite database (and, in-process, behind one connection).
/// </summary>
public sealed class SqliteStoreOptions : IStorageProviderSerializerOptions
{
    /// <summary>Default database file name inside <see cref="DataDirectory"/>.</summary>
    public const string DefaultFileName = "cluster.db";

    /// <summary>
    /// Directory that holds the database (created if missing). Relative paths resolve against
    /// the process working directory, not the binary folder, so a rebuild never wipes data.
    /// </summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>File name of the database inside <see cref="DataDirectory"/>.</summary>
    public string FileName { get; set; } = DefaultFileName;

    /// <summary>
    /// Full path of the database file. When set it wins over <see cref="DataDirectory"/> and
    /// <see cref="FileName"/>.
    /// </summary>
    public string? DatabasePath { get; set; }

    /// <summary>
    /// Commit durability. NORMAL by default: survives a killed process, which is the failure
    /// this deployment cares about; choose FULL when power-loss safety matters more than latency.
    /// </summary>
    public SqliteSynchronousMode Synchronous { get; set; } = SqliteSynchronousMode.Normal;

    /// <summary>
    /// How long a statement waits for a lock held by another connection (another process, or a
    /// second file handle in this one) before failing with SQLITE_BUSY.
    /// </summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Default table of grain state.</summary>
    public const string DefaultTableName = "grain_state";

    /// <summary>
    /// Table of this provider's grain state (letters, digits and '_'). State that is deleted in the order it was written
    /// (transactions, by expiry) belongs in a table of its own: SQLite appends rows at the end of a table and reuses a
    /// page only once every row on it is gone, so deleted transactions interleaved with certificates that stay would
    /// leave their space behind in half-full pages for ever.
    /// </summary>
    public string TableName { get; set; } = DefaultTableName;

    /// <summary>
    /// Serializer for grain state. Left null, the silo fills it in (post-configure) with the
    /// <see cref="IGrainStorageSerializer"/> keyed by the provider name, falling back to the
    /// silo-wide default. Unused by the reminder table.
    /// </summary>
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;

    /// <summary>Absolute path of the database file these options point at.</summary>
    public string ResolveDatabasePath()
    {
        var path = string.IsNullOrWhiteSpace(DatabasePath)
            ? Path.Combine(DataDirectory, FileName)
            : DatabasePath;

        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidOperationException(
                $"{nameof(SqliteStoreOptions)}: set {nameof(DatabasePath)} or {nameof(DataDirectory)} + {nameof(FileName)}.");
        }

        return Path.GetFullPath(path);
    }
}
