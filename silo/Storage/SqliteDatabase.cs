using System.Globalization;
using Microsoft.Data.Sqlite;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// One open SQLite database file, shared by every component of this process that points at it.
/// </summary>
/// <remarks>
/// Why a single connection behind a semaphore rather than a pool:
/// SQLite allows one writer at a time per file anyway, so several connections would only
/// queue on the file lock (with busy-retry sleeps) instead of on a cheap in-process semaphore.
/// In WAL mode with synchronous=NORMAL a commit is an append to the WAL in the page cache,
/// i.e. microseconds, so serialising every statement costs little even with many grains writing
/// concurrently on a small machine. One connection also lets us keep prepared statements around
/// (see <see cref="Command"/>), which a pool would have to duplicate per connection.
/// Sharing the instance between the grain storage and the reminder table (same file) means the
/// two never contend on SQLite's file lock, so SQLITE_BUSY cannot happen in-process.
/// </remarks>
internal sealed class SqliteDatabase
{
    // Process-wide registry: path -> open database. Guarded by its own lock.
    private static readonly Dictionary<string, SqliteDatabase> OpenDatabases = new(StringComparer.Ordinal);

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);
    private SqliteSynchronousMode _synchronous;
    private int _references;
    private bool _closed;

    private SqliteDatabase(string path, SqliteStoreOptions options)
    {
        Path = path;
        var directory = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // Pooling would keep the file open after Dispose; we want Dispose to really close it
            // (final WAL checkpoint, file deletable, a "restart" in tests really reopens it).
            Pooling = false,
        }.ToString();

        _connection = new SqliteConnection(connectionString);
        _connection.Open();
        try
        {
            // journal_mode is persistent in the file, but re-asserting it is cheap and lets us
            // fail loudly if the filesystem cannot do WAL (e.g. some network mounts).
            var mode = ExecuteScalar("PRAGMA journal_mode=WAL;") as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"SQLite refused WAL journal mode for '{path}' (got '{mode}').");
            }

            var busyMs = (long)Math.Clamp(options.BusyTimeout.TotalMilliseconds, 0, int.MaxValue);
            ExecuteNonQuery(string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout={busyMs};"));
            ApplySynchronous(options.Synchronous);
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <summary>Absolute path of the database file.</summary>
    public string Path { get; }

    /// <summary>
    /// Opens (or joins) the database described by <paramref name="options"/>. Every call must be
    /// paired with one <see cref="Release"/>; the file is closed when the last user releases it.
    /// </summary>
    public static SqliteDatabase Acquire(SqliteStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var path = options.ResolveDatabasePath();
        lock (OpenDatabases)
        {
            if (!OpenDatabases.TryGetValue(path, out var database))
            {
                database = new SqliteDatabase(path, options);
                OpenDatabases.Add(path, database);
            }
            else if (options.Synchronous > database._synchronous)
            {
                // Two users of one file asked for different durability: the stricter one wins,
                // since weakening it would silently break the stricter user's guarantee.
                database.RunExclusive(() => database.ApplySynchronous(options.Synchronous));
            }

            database._references++;
            return database;
        }
    }

    /// <summary>Drops one reference; the last one closes the connection (checkpointing the WAL).</summary>
    public void Release()
    {
        lock (OpenDatabases)
        {
            if (--_references > 0)
            {
                return;
            }

            OpenDatabases.Remove(Path);
        }

        // Wait for any statement still running, then close for good.
        RunExclusive(() =>
        {
            _closed = true;
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }

            _commands.Clear();
            _connection.Dispose();
        });
    }

    /// <summary>
    /// Runs <paramref name="work"/> with exclusive use of the connection. Each statement the work
    /// executes outside an explicit transaction auto-commits before the next one starts, so by the
    /// time the returned task completes, writes are committed (durable per the synchronous mode).
    /// </summary>
    public async Task<T> RunAsync<T>(Func<SqliteDatabase, T> work, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            return work(this);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Runs a write (<paramref name="work"/>: one or a few statements, no transaction of its own) so that it shares a
    /// commit with the writes that queued behind the one before it (group commit): one SQLite transaction, one WAL
    /// append of the pages they touched and one file lock per batch instead of per write. The task completes once the
    /// batch is committed, as <see cref="RunAsync{T}"/> would after its own commit. A write that throws fails alone: the
    /// batch is rolled back and its writes run again one at a time, so the others still commit.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteDatabase, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var write = new QueuedWrite<T>(work);
        _writes.Enqueue(write);
        if (Interlocked.CompareExchange(ref _flushing, 1, 0) == 0)
        {
            // Not inline: queued behind the work already waiting for the thread pool, so the writes that work makes (other
            // grains' turns, on a busy core) join this commit instead of each committing alone.
            ThreadPool.UnsafeQueueUserWorkItem(static database => _ = database.FlushAsync(), this, preferLocal: false);
        }
        return write.Task;
    }

    /// <summary>Writes taken into one commit at most (a bound on the time other statements wait for the connection).</summary>
    private const int MaxWritesPerCommit = 64;

    /// <summary>Writes waiting for the flusher; at most one flusher runs (<see cref="_flushing"/>).</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<IQueuedWrite> _writes = new();
    private int _flushing;

    private async Task FlushAsync()
    {
        var batch = new List<IQueuedWrite>(MaxWritesPerCommit);
        while (true)
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try
            {
                while (batch.Count < MaxWritesPerCommit && _writes.TryDequeue(out IQueuedWrite? write))
                {
                    batch.Add(write);
                }
                if (_closed)
                {
                    batch.ForEach(w => w.Fail(new ObjectDisposedException(nameof(SqliteDatabase))));
                }
                else
                {
                    RunBatch(batch);
                }
            }
            finally
            {
                _gate.Release();
            }
            // Callers continue only after the connection is free again.
            batch.ForEach(w => w.Complete());
            batch.Clear();
            if (!_writes.IsEmpty)
            {
                continue;
            }
            Volatile.Write(ref _flushing, 0);
            // A write queued after the emptiness check and before the release has no flusher yet: take it on.
            if (_writes.IsEmpty || Interlocked.CompareExchange(ref _flushing, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>Commits made for <see cref="WriteAsync{T}"/> writes (a batch counts once): for tests and diagnostics.</summary>
    internal long WriteCommits => Interlocked.Read(ref _writeCommits);

    private long _writeCommits;

    private void RunBatch(List<IQueuedWrite> batch)
    {
        Interlocked.Increment(ref _writeCommits);
        if (batch.Count == 1)
        {
            batch[0].Run(this); // auto-commits on its own
            return;
        }
        try
        {
            Command("BEGIN IMMEDIATE;").ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // No shared transaction (the file is locked or failing): each write commits or fails alone. Never thrown out of
            // the flusher, which would leave these callers waiting and every later write queued behind a flag never reset.
            batch.ForEach(write => write.Run(this));
            return;
        }
        bool failed = false;
        foreach (IQueuedWrite write in batch)
        {
            if (!write.Run(this))
            {
                failed = true;
                break;
            }
        }
        if (!failed)
        {
            try
            {
                Command("COMMIT;").ExecuteNonQuery();
                return;
            }
            catch (SqliteException)
            {
                // Nothing of the batch is durable; each write is tried again alone below.
            }
        }
        try
        {
            Command("ROLLBACK;").ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // SQLite already rolled the transaction back (an I/O or full-disk error does that itself).
        }
        foreach (IQueuedWrite write in batch)
        {
            write.Run(this);
        }
    }

    private interface IQueuedWrite
    {
        /// <summary>Runs the write; false when it threw (kept for <see cref="Fail"/>/<see cref="Complete"/>).</summary>
        bool Run(SqliteDatabase database);

        void Fail(Exception exception);

        /// <summary>Hands the caller the result or exception of the last <see cref="Run"/>.</summary>
        void Complete();
    }

    private sealed class QueuedWrite<T>(Func<SqliteDatabase, T> work) : IQueuedWrite
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _exception;

        public Task<T> Task => _completion.Task;

        public bool Run(SqliteDatabase database)
        {
            try
            {
                _result = work(database);
                _exception = null;
                return true;
            }
            catch (Exception e)
            {
                _exception = e;
                return false;
            }
        }

        public void Fail(Exception exception) => _exception = exception;

        public void Complete()
        {
            if (_exception is not null)
            {
                _completion.TrySetException(_exception);
            }
            else
            {
                _completion.TrySetResult(_result!);
            }
        }
    }

    /// <summary>Synchronous variant for start-up work such as schema creation.</summary>
    public void RunExclusive(Action work)
    {
        _gate.Wait();
        try
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            work();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Returns a prepared command for <paramref name="sql"/>, created once and reused afterwards
    /// (SQLite then skips re-parsing and re-planning). Parameters are declared by name, in order;
    /// callers set values by index. Only valid inside <see cref="RunAsync{T}"/> /
    /// <see cref="RunExclusive"/>, because a command cannot be used by two callers at once.
    /// </summary>
    public SqliteCommand Command(string sql, params string[] parameterNames)
    {
        if (_commands.TryGetValue(sql, out var command))
        {
            return command;
        }

        command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameterNames)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        command.Prepare();
        _commands.Add(sql, command);
        return command;
    }

    /// <summary>Executes ad-hoc SQL (DDL, pragmas). Call inside <see cref="RunExclusive"/>.</summary>
    public void ExecuteNonQuery(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private object? ExecuteScalar(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private void ApplySynchronous(SqliteSynchronousMode mode)
    {
        var keyword = mode switch
        {
            SqliteSynchronousMode.Normal => "NORMAL",
            SqliteSynchronousMode.Full => "FULL",
            SqliteSynchronousMode.Extra => "EXTRA",
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unsupported synchronous mode."),
        };
        ExecuteNonQuery($"PRAGMA synchronous={keyword};");
        _synchronous = mode;
    }
}
