using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// One PKCS#11 token (Pki:Tokens:{name}) with a pool of logged-in sessions. A session runs one cryptographic operation at a
/// time (PKCS#11 v2.40 base specification §5.6), so the pool holds as many as the silo signs at once and a CA is not
/// serialized behind one session. The login is the application's, shared by all its sessions on the token (§5.6, C_Login).
/// </summary>
/// <remarks>
/// A token that goes away (removed, logged out, a library error: any CKR_ from an operation) marks the token faulted:
/// the pooled sessions are dropped and every caller gets <see cref="KeyUnavailableException"/>, which a CA answers with
/// systemUnavail. The next use, or the health probe, looks for the token again by its label, opens a session and logs in:
/// the CA recovers without a restart once the token is back. Object handles are looked up again after a fault, since a
/// token put back may number its objects differently. The PIN is never logged nor put in a message.
/// </remarks>
public sealed partial class Pkcs11Token : IDisposable
{
    private static readonly Pkcs11InteropFactories Factories = new();
    private static readonly Dictionary<string, Module> Modules = new(StringComparer.Ordinal);
    private static readonly Lock ModulesLock = new();
    private static readonly TimeSpan AcquireTimeout = TimeSpan.FromSeconds(30);

    private readonly Module _module;
    private int _moduleGeneration;
    private readonly string? _pin;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _busy;
    private readonly ConcurrentBag<Pooled> _idle = [];
    private readonly ConcurrentDictionary<(CKO Class, string Label), IObjectHandle> _handles = new();
    private readonly Lock _reconnect = new();
    private readonly Lock _state = new();
    private ISlot _slot;
    private int _generation;
    private volatile string? _fault;

    private sealed record Pooled(ISession Session, int Generation, int ModuleGeneration);

    private Pkcs11Token(string name, Pkcs11TokenOptions options, Module module, ISlot slot, ILogger logger)
    {
        Name = name;
        Setting = $"{PkiOptions.Section}:Tokens:{name}";
        Label = options.TokenLabel;
        Sessions = options.Sessions ?? Environment.ProcessorCount;
        _module = module;
        _moduleGeneration = module.Generation;
        _slot = slot;
        _pin = options.Pin;
        _logger = logger;
        _busy = new SemaphoreSlim(Sessions, Sessions);
    }

    public string Name { get; }

    /// <summary>The configuration key of this token, <c>Pki:Tokens:{name}</c>, for messages.</summary>
    public string Setting { get; }

    public string Label { get; }

    public int Sessions { get; }

    /// <summary>Why the token cannot be used now, or null.</summary>
    public string? Fault => _fault;

    /// <summary>
    /// Loads the library, finds the token by label and logs in. Every failure names the setting to fix, never the PIN:
    /// the node stops at start (silo/Program.cs).
    /// </summary>
    public static Pkcs11Token Open(string name, Pkcs11TokenOptions options, ILogger logger)
    {
        string setting = $"{PkiOptions.Section}:Tokens:{name}";
        if (!File.Exists(options.Library))
        {
            throw new InvalidOperationException($"{setting}:Library: '{options.Library}' does not exist");
        }
        if (string.IsNullOrEmpty(options.Pin))
        {
            throw new InvalidOperationException($"{setting}:Pin is required (set it through the environment: {setting.Replace(":", "__", StringComparison.Ordinal)}__Pin)");
        }
        Module module = LoadModule(setting, options.Library);
        // A token made after the module was initialized may need a new C_Initialize to be seen (SoftHSM2 does).
        ISlot slot = module.FindSlot(options.TokenLabel) ?? (module.Reload(force: true) ? module.FindSlot(options.TokenLabel) : null)
            ?? throw new InvalidOperationException($"{setting}:TokenLabel: no token labelled '{options.TokenLabel}' in {options.Library}");
        var token = new Pkcs11Token(name, options, module, slot, logger);
        try
        {
            token.Return(token.OpenSession());
        }
        catch (Pkcs11Exception e) when (e.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_INVALID or CKR.CKR_PIN_LEN_RANGE or CKR.CKR_PIN_LOCKED or CKR.CKR_PIN_EXPIRED)
        {
            throw new InvalidOperationException($"{setting}:Pin: token '{options.TokenLabel}' refused the PIN ({e.RV})");
        }
        catch (Pkcs11Exception e)
        {
            throw new InvalidOperationException($"{setting}: cannot log in to token '{options.TokenLabel}' ({e.RV})");
        }
        return token;
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on a pooled logged-in session (waiting while all are busy). Any PKCS#11 error marks
    /// the token faulted and becomes <see cref="KeyUnavailableException"/> for <paramref name="key"/>.
    /// </summary>
    public T Use<T>(string key, Func<ISession, T> operation)
    {
        if (!_busy.Wait(AcquireTimeout))
        {
            throw new KeyUnavailableException(key, $"key '{key}': all {Sessions} sessions of token '{Label}' stayed busy for {AcquireTimeout.TotalSeconds:0} s");
        }
        try
        {
            if (_fault is not null || Volatile.Read(ref _moduleGeneration) != _module.Generation)
            {
                Reconnect(key);
            }
            // The module is not re-initialized under a running operation (see Module.Reload).
            _module.Lock.EnterReadLock();
            try
            {
                Pooled pooled = Take(key);
                T result;
                try
                {
                    result = operation(pooled.Session);
                }
                catch (Pkcs11Exception e)
                {
                    MarkFaulted(pooled.Generation, $"{e.Method}: {e.RV}");
                    throw Unavailable(key);
                }
                catch (KeyNotOnTokenException e)
                {
                    // A token put back without the key (or another token under the label): unavailable until it has it.
                    MarkFaulted(pooled.Generation, e.Message);
                    throw new KeyUnavailableException(key, Unavailable(key).Message, e);
                }
                Return(pooled);
                return result;
            }
            finally
            {
                _module.Lock.ExitReadLock();
            }
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>The object handle of the one object of <paramref name="objectClass"/> labelled <paramref name="label"/>;
    /// looked up once per token connection.</summary>
    public IObjectHandle Find(ISession session, CKO objectClass, string label)
    {
        if (_handles.TryGetValue((objectClass, label), out IObjectHandle? handle))
        {
            return handle;
        }
        List<IObjectHandle> found = session.FindAllObjects(
        [
            Factories.ObjectAttributeFactory.Create(CKA.CKA_CLASS, objectClass),
            Factories.ObjectAttributeFactory.Create(CKA.CKA_LABEL, label),
        ]);
        if (found.Count != 1)
        {
            throw new KeyNotOnTokenException(found.Count == 0
                ? $"token '{Label}' has no {Describe(objectClass)} labelled '{label}'"
                : $"token '{Label}' has {found.Count} objects of class {Describe(objectClass)} labelled '{label}': the label must be unique");
        }
        return _handles.GetOrAdd((objectClass, label), found[0]);
    }

    /// <summary>Reads attributes of an object (PKCS#11 v2.40 §5.7 C_GetAttributeValue).</summary>
    public static List<IObjectAttribute> Read(ISession session, IObjectHandle handle, params CKA[] attributes) =>
        session.GetAttributeValue(handle, [.. attributes]);

    public static IMechanism Mechanism(CKM mechanism) => Factories.MechanismFactory.Create(mechanism);

    /// <summary>
    /// For the health endpoint: a token that is up is asked for its session state (logged in as user?); a faulted one is
    /// looked for again, so health recovers with the token, before any issuance tries it.
    /// </summary>
    public bool Probe()
    {
        try
        {
            return Use("probe", session =>
            {
                CKS state = session.GetSessionInfo().State;
                if (state is not (CKS.CKS_RO_USER_FUNCTIONS or CKS.CKS_RW_USER_FUNCTIONS))
                {
                    // Someone logged the application out (C_Logout): the next session logs in again.
                    throw new Pkcs11Exception("C_GetSessionInfo", CKR.CKR_USER_NOT_LOGGED_IN);
                }
                return true;
            });
        }
        catch (KeyUnavailableException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        while (_idle.TryTake(out Pooled? pooled))
        {
            Close(pooled);
        }
        _busy.Dispose();
    }

    private Pooled Take(string key)
    {
        while (_idle.TryTake(out Pooled? pooled))
        {
            if (pooled.Generation == Volatile.Read(ref _generation))
            {
                return pooled;
            }
            Close(pooled);
        }
        try
        {
            return OpenSession();
        }
        catch (Pkcs11Exception e)
        {
            MarkFaulted(Volatile.Read(ref _generation), $"{e.Method}: {e.RV}");
            throw Unavailable(key);
        }
    }

    private void Return(Pooled pooled)
    {
        if (pooled.Generation == Volatile.Read(ref _generation))
        {
            _idle.Add(pooled);
        }
        else
        {
            Close(pooled);
        }
    }

    /// <summary>A new read-only session, logged in as the user unless the application already is (PKCS#11 v2.40 §5.6:
    /// CKR_USER_ALREADY_LOGGED_IN means the login of another session holds).</summary>
    private Pooled OpenSession()
    {
        int generation = Volatile.Read(ref _generation);
        int moduleGeneration = _module.Generation;
        ISession session = _slot.OpenSession(SessionType.ReadOnly);
        try
        {
            if (session.GetSessionInfo().State is CKS.CKS_RO_PUBLIC_SESSION or CKS.CKS_RW_PUBLIC_SESSION)
            {
                try
                {
                    session.Login(CKU.CKU_USER, _pin);
                }
                catch (Pkcs11Exception e) when (e.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
                {
                }
            }
        }
        catch
        {
            Close(new Pooled(session, generation, moduleGeneration));
            throw;
        }
        return new Pooled(session, generation, moduleGeneration);
    }

    /// <summary>
    /// The first failure of a connection faults the token: the pooled sessions and handles of that connection are dropped
    /// (sessions still busy are closed when they come back), and the warning is logged once per fault.
    /// </summary>
    private void MarkFaulted(int generation, string cause)
    {
        // _state, not _reconnect: a reconnect may wait for the module's write lock, which this caller's read lock holds up.
        lock (_state)
        {
            if (generation != _generation)
            {
                return; // an older connection's failure; the token was already faulted (and maybe reconnected) since
            }
            _generation++;
            _fault = $"token '{Label}' ({Setting}) is unavailable: {cause}";
            _handles.Clear();
            while (_idle.TryTake(out Pooled? pooled))
            {
                Close(pooled);
            }
            LogFaulted(_logger, Name, Label, cause);
        }
    }

    /// <summary>
    /// Looks for the token again by its label and logs in; still absent or failing: <see cref="KeyUnavailableException"/>.
    /// A token that is not in the slot list may need the module initialized again to be seen (C_Finalize, C_Initialize:
    /// PKCS#11 v2.40 §5.4; SoftHSM2 and several HSMs list only the tokens they found at C_Initialize); that is done at most
    /// every few seconds (<see cref="Module.Reload"/>), and the other tokens of the module reopen their sessions after it.
    /// </summary>
    private void Reconnect(string key)
    {
        lock (_reconnect)
        {
            if (_moduleGeneration != _module.Generation)
            {
                // The module was initialized again (for this token or another): this connection's sessions are gone.
                Forget("the PKCS#11 module was initialized again");
            }
            if (_fault is null)
            {
                return;
            }
            try
            {
                ISlot? slot = _module.FindSlot(Label);
                if (slot is null && _module.Reload(force: false))
                {
                    Forget(_fault);
                    slot = _module.FindSlot(Label);
                }
                if (slot is null)
                {
                    _fault = $"token '{Label}' ({Setting}) is not present";
                    throw Unavailable(key);
                }
                _slot = slot;
                _idle.Add(OpenSession());
                _fault = null;
                LogRecovered(_logger, Name, Label);
            }
            catch (Pkcs11Exception e)
            {
                _fault = $"token '{Label}' ({Setting}) is unavailable: {e.Method}: {e.RV}";
                throw Unavailable(key);
            }
        }
    }

    /// <summary>Drops the sessions and handles of a module instance that was unloaded (they are not closed: its code is gone).</summary>
    private void Forget(string? fault)
    {
        lock (_state)
        {
            _moduleGeneration = _module.Generation;
            _generation++;
            _handles.Clear();
            while (_idle.TryTake(out _))
            {
            }
            _fault ??= fault;
        }
    }

    private KeyUnavailableException Unavailable(string key) =>
        new(key, $"key '{key}' cannot sign: {_fault ?? $"token '{Label}' ({Setting}) is unavailable"}");

    /// <summary>Closes a session of the module as loaded now; one of a module since unloaded is only dropped.</summary>
    private void Close(Pooled pooled)
    {
        if (pooled.ModuleGeneration != _module.Generation)
        {
            return;
        }
        _module.Lock.EnterReadLock();
        try
        {
            if (pooled.ModuleGeneration == _module.Generation)
            {
                pooled.Session.Dispose();
            }
        }
        catch (Pkcs11Exception)
        {
            // The token that failed may not know the session any more.
        }
        finally
        {
            _module.Lock.ExitReadLock();
        }
    }

    private static string Describe(CKO objectClass) => objectClass switch
    {
        CKO.CKO_PRIVATE_KEY => "private key",
        CKO.CKO_SECRET_KEY => "secret key",
        _ => objectClass.ToString(),
    };

    private static Module LoadModule(string setting, string path)
    {
        lock (ModulesLock)
        {
            if (!Modules.TryGetValue(path, out Module? module))
            {
                NativeResolver.Install();
                try
                {
                    module = new Module(path);
                }
                catch (Exception e) when (e is Pkcs11Exception or UnmanagedException or DllNotFoundException)
                {
                    throw new InvalidOperationException($"{setting}:Library: cannot load '{path}': {e.Message}");
                }
                Modules[path] = module;
            }
            return module;
        }
    }

    /// <summary>
    /// One loaded PKCS#11 module per path and process: C_Initialize is once per application (PKCS#11 v2.40 §5.4), so the
    /// tokens of one module share it. Multi-threaded: the pools sign from several threads at once. Operations hold
    /// <see cref="Lock"/> for reading; initializing the module again holds it for writing, so no operation runs on an
    /// unloaded module, and <see cref="Generation"/> tells every token that its sessions are gone.
    /// </summary>
    private sealed class Module(string path)
    {
        private static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(5);
        private long _lastReload = Environment.TickCount64;
        private volatile int _generation;

        public IPkcs11Library Library { get; private set; } = Factories.Pkcs11LibraryFactory.LoadPkcs11Library(Factories, path, AppType.MultiThreaded);

        public ReaderWriterLockSlim Lock { get; } = new(LockRecursionPolicy.SupportsRecursion);

        public int Generation => _generation;

        public ISlot? FindSlot(string label)
        {
            Lock.EnterReadLock();
            try
            {
                foreach (ISlot slot in Library.GetSlotList(SlotsType.WithTokenPresent))
                {
                    try
                    {
                        if (slot.GetTokenInfo().Label.Trim() == label)
                        {
                            return slot;
                        }
                    }
                    catch (Pkcs11Exception)
                    {
                        // A slot whose token went away between the list and the question: not ours now.
                    }
                }
                return null;
            }
            finally
            {
                Lock.ExitReadLock();
            }
        }

        /// <summary>C_Finalize then C_Initialize, at most every <see cref="ReloadInterval"/> unless forced; false when skipped.</summary>
        public bool Reload(bool force)
        {
            Lock.EnterWriteLock();
            try
            {
                if (!force && Environment.TickCount64 - Interlocked.Read(ref _lastReload) < ReloadInterval.TotalMilliseconds)
                {
                    return false;
                }
                Interlocked.Exchange(ref _lastReload, Environment.TickCount64);
                _generation++;
                Library.Dispose();
                Library = Factories.Pkcs11LibraryFactory.LoadPkcs11Library(Factories, path, AppType.MultiThreaded);
                return true;
            }
            finally
            {
                Lock.ExitWriteLock();
            }
        }
    }

    /// <summary>
    /// Pkcs11Interop loads modules through <c>libdl</c>, which Debian 12 ships only as <c>libdl.so.2</c> (glibc 2.34 moved
    /// dlopen into libc and left no unversioned name): the import is pointed there.
    /// </summary>
    private static class NativeResolver
    {
        private static bool _installed;

        public static void Install()
        {
            if (_installed || !OperatingSystem.IsLinux())
            {
                return;
            }
            _installed = true;
            NativeLibrary.SetDllImportResolver(typeof(Pkcs11InteropFactories).Assembly, Resolve);
        }

        private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
        {
            if (name == "libdl" && NativeLibrary.TryLoad("libdl.so.2", assembly, path, out IntPtr handle))
            {
                return handle;
            }
            return IntPtr.Zero;
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "PKCS#11 token {Token} ('{Label}') failed: {Cause}; its CAs answer systemUnavail until it is back")]
    private static partial void LogFaulted(ILogger logger, string token, string label, string cause);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "PKCS#11 token {Token} ('{Label}') is back: logged in again")]
    private static partial void LogRecovered(ILogger logger, string token, string label);
}

/// <summary>A key the configuration names is not on the token (or is not unique there).</summary>
public sealed class KeyNotOnTokenException(string message) : Exception(message);
